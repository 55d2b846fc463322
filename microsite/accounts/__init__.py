"""Signing in: users and roles (`auth`), server-side sessions (`user_sessions`), the shared
sign-in throttle (`throttle`), username normalisation (`usernames`) and the user forms."""
