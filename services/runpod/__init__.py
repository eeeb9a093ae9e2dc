"""Trainers on RunPod: a bridge that runs each trial as a serverless job, GPU pods that join a study."""
