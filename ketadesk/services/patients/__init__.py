"""Patients: search, register, edit, and the patient record."""
