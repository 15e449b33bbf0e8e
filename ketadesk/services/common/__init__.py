"""What every service shares: who acts, what each role may do, the errors services report."""
