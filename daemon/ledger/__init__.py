"""Operations on the ledger. Each one changes rows AND records why, in one transaction."""
