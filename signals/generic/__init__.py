"""Our own signed signal format: its fields, its service and its endpoint."""
