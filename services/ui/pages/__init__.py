"""The panel's pages: each file is a Streamlit page script (``st.navigation`` runs it)."""
