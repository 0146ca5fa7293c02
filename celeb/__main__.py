"""`python -m celeb`: the same entry point as the `celeb` console script."""

from celeb.cli import main

main()
