package storage

// ServeVersion lets tests serve a provider that speaks another protocol version.
var ServeVersion = serve
