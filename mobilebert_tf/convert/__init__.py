"""Weight maps between our encoder and other implementations' encoders."""
