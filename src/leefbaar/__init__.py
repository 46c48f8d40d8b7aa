"""leefbaar: measure, explain and monitor the livability (leefbaarheid) of Dutch neighbourhoods."""

__version__ = "0.1.0"
