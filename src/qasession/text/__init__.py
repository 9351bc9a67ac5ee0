"""Text from anywhere made safe and measured: inert for terminals, length per platform."""
