"""Unit tests for pet_biofeedback.firmware_bridge."""
