"""Studies from the literature, reproduced as `structsearch experiment ...`."""
