"""Pure domain model: tags, samples, quality, decoding, the tag bus, event rules."""
