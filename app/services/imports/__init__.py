"""History imports: Letterboxd, IMDb and Trakt exports into a user's library."""
