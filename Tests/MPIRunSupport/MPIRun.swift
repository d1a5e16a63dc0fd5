// Placeholder until the runner is written.
