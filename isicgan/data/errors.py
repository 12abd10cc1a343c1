"""The one error of the data stage."""


class DataError(ValueError):
    """The raw data cannot give what the config asks for; the message says where and why."""
