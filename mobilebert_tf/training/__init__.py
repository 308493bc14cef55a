"""Training machinery: optimizers, trainers, the checkpointed loop, records and evaluation."""
