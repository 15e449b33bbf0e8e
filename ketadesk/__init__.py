"""KetaDesk: the scheduling desk of a ketamine-therapy clinic."""

__version__ = "0.1.0"
APP_NAME = "KetaDesk"
