"""Recipient spreadsheets: reading, phone normalization, validated imports and safe exports."""
