"""The ground floor: the error tree, injectable time, server text made safe to show."""
