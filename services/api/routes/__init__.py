"""One router per resource; ``common`` holds the documented error responses."""
