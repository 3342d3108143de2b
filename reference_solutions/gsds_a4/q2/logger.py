import sys


class Logger(object):
    """Copies everything printed to the terminal into result.log (overwritten on every run)."""

    def __init__(self, filename="result.log"):
        self.terminal = sys.stdout
        self.log = open(filename, "w", encoding="utf-8")

    def write(self, message):
        self.terminal.write(message)
        self.log.write(message)
        self.log.flush()

    def flush(self):
        self.terminal.flush()
        self.log.flush()
