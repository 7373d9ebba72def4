"""AI system inventory: the systems everything else hangs on."""
