"""CRM sync: accounts with their contacts, opportunities and contracts, by natural keys."""
