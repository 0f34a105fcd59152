"""The Segment / RudderStack HTTP Tracking API: its dialect, its service and its endpoints."""
