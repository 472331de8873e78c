"""Small, crash-safe file helpers shared by every long job."""
