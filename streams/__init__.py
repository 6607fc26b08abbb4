"""rankstream: real-time windowed leaderboards as a stream job."""
