"""Held-out test evaluation of a trained model: accuracy and loss, calibration, accuracy under shifts."""
