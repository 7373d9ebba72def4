"""One module per GenAI span dialect; each says which published attributes it reads (see its docstring)."""
