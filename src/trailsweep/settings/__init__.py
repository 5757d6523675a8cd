"""What to ask: attributes, the time window, filters, accounts, and the settings of a sweep."""
