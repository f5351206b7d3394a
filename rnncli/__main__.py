"""`python -m rnncli` runs the same app as the `rnn` console script."""

from rnncli.cli import main

if __name__ == "__main__":
    main()
