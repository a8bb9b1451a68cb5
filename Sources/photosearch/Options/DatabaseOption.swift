import ArgumentParser
import ModelHub

/// --db, shared by every command that reads or writes an index.
struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: "Index database (default: $PHOTOSEARCH_DB, else $XDG_DATA_HOME/photosearch/index.sqlite).", completion: .file())
    var db: String?

    var path: String { XDGDirectories.indexPath(explicit: db) }
}
