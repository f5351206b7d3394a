"""The maths of `rnn`: NumPy only, no I/O, no printing. See rnn.py for the equations."""
