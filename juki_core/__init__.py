"""What the stages, flows and command line stand on: settings, the store and provenance; imports only schemas."""
