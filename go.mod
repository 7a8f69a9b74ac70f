module github.com/siteverify/siteverify

go 1.26.8
