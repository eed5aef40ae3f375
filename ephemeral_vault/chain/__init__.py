"""The backend's one chain client: instruction builders, account/event decoding, safe send-and-confirm."""
