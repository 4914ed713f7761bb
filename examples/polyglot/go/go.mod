module example.com/acme/go // v0.2.0

go 1.19
