"""Export to SavedModel and `.tflite`, and the fidelity check that always follows."""
