"""CDK constructs and stack of the celebrity recognition pipeline."""
