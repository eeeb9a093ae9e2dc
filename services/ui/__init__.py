"""The Streamlit control panel: configure, launch, watch, explore and export studies over the REST API only."""
