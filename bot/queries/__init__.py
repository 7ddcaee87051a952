"""The database reads the SOP needs, one module per aggregate; handlers build no SQL."""
