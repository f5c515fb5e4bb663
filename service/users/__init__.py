"""Users as staff manage them (the old admin site): create, edit, deactivate, reset passwords."""
