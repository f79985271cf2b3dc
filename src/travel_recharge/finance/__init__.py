"""Finance: the ledger of every balance change, its verification, and revenue."""
