"""Model builders: a CNN for images, an LSTM for text, chosen by the dataset's modality."""
