import ArgumentParser
import ModelHub

/// --db, shared by every command that reads or writes an index.
struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: "Index database (default: $PHOTOSEARCH_DB, else $XDG_DATA_HOME/photosearch/index.sqlite).", completion: .file())
    var db: String?

    var path: String { XDGDirectories.indexPath(explicit: db) }

    // An empty value (an unset shell variable: --db "$DB") would have
    // meant the default index, quietly.
    func validate() throws {
        if db?.isEmpty == true { throw ValidationError("--db is empty: give the index's path, or leave --db out for the default index.") }
    }
}
