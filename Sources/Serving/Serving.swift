// Serving: a trained model as an HTTP service (`ddp serve`).
//
// This module is deliberately separate from Training: serving is a different
// concern (a long-running network service with its own dependencies and
// failure modes), and nothing in training should pull in an HTTP stack.
// It only reads checkpoints, through Training's inference API.
