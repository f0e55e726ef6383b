"""The archive (资料归档): a collaboration's whole record as a folder, and the ledger as a table."""
