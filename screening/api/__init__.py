"""HTTP routes. Each reads like the pipeline: validate -> normalize -> candidates -> score -> respond."""
