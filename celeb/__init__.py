"""`celeb`: the command-line client of the celebrity recognition stack.

It replaces the notebook flow of the case study (upload to S3, `lambda.invoke`, decode the payload)
and finds every resource name in the deployed stack's CloudFormation outputs.
"""

__version__ = "0.1.0"
