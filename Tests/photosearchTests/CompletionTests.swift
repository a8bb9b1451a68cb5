import Foundation
import Testing
import TestSupport

/// The completion scripts `photosearch --generate-completion-script` writes,
/// run by bash, zsh and fish themselves: paths complete where paths go,
/// photos where a photo goes, installed models after --model, the
/// catalogue after `models install`.
@Suite("Shell completion in bash, zsh and fish")
struct CompletionTests {
    /// A folder of things to complete, a data folder with one installed
    /// model, and each shell's script.
    final class Setup: @unchecked Sendable {   // immutable after init
        let root: TemporaryDirectory
        var environment: [String: String] {
            ["PATH": CommandRunner.executable.deletingLastPathComponent().path + ":/usr/bin:/bin", "XDG_DATA_HOME": root.file("data"),
             "HOME": root.file("home")]
        }

        init() throws {
            root = try TemporaryDirectory()
            for folder in ["library/2024", "Photos", "models-here", "data/photosearch/models/my-model", "home", "zsh"] {
                try FileManager.default.createDirectory(atPath: root.file(folder), withIntermediateDirectories: true)
            }
            for file in ["Photos/Photo 1.jpg", "Photos/Photo 2.HEIC", "Photos/Photo notes.txt", "index.sqlite"] {
                _ = FileManager.default.createFile(atPath: root.file(file), contents: Data())
            }
            for (shell, file) in [("bash", "photosearch.bash"), ("zsh", "zsh/_photosearch"), ("fish", "photosearch.fish")] {
                let script = try CommandRunner.run(["--generate-completion-script", shell])
                precondition(script.status == 0, script.standardError)
                try script.standardOutput.write(toFile: root.file(file), atomically: true, encoding: .utf8)
            }
            // bash: the completion function called as bash calls it.
            try #"""
                source "$1"; shift
                COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
                read -ra COMP_WORDS <<< "$COMP_LINE"
                [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
                COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
                COMPREPLY=()
                _photosearch "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                printf '%s\n' "${COMPREPLY[@]}"
                """#.write(toFile: root.file("complete.bash"), atomically: true, encoding: .utf8)
            // zsh: an interactive zsh in a pseudo-terminal, with compadd
            // wrapped to print what it is given. The line is typed with ^T,
            // bound to a widget that completes and then prints a marker:
            // nothing more is typed until completion is over (input pending
            // while completing cuts it short).
            try #"""
                zmodload zsh/zpty
                zpty z zsh -f -i
                zpty -w z "PROMPT=''; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
                zpty -w z 'compadd() { builtin compadd -O __hits "$@"; print -l -- "<hit>"${^__hits}; builtin compadd "$@" }'
                zpty -w z 'zstyle ":completion:*" list-prompt ""; zstyle ":completion:*" menu no'
                zpty -w z 'finish() { zle complete-word; print -rn -- "<e""nd>" }; zle -N finish; bindkey "^T" finish'
                # Ready when the output says so (its echo reads <rea""dy>):
                # nothing is typed ahead of the set-up.
                zpty -w z 'print -- "<rea""dy>"'
                zpty -r z line '*<ready>*'
                zpty -n -w z "$2"$'\x14'
                zpty -r z out '*<end>*'
                print -r -- "$out" | grep -o '<hit>[^<]*' | sed 's/<hit>//' | tr -d '\r' | sort -u
                zpty -d z
                """#.write(toFile: root.file("complete.zsh"), atomically: true, encoding: .utf8)
        }

        func bash(_ line: String) throws -> [String] {
            try lines(CommandRunner.run(executable: URL(fileURLWithPath: "/bin/bash"), [root.file("complete.bash"), root.file("photosearch.bash"), line],
                                        environment: environment))
        }

        func zsh(_ line: String) throws -> [String] {
            try lines(CommandRunner.run(executable: URL(fileURLWithPath: "/usr/bin/env"), ["timeout", "-s", "KILL", "60", "zsh", "-f", root.file("complete.zsh"),
                                                                                            root.file("zsh"), line],
                                        environment: environment.merging(["TERM": "dumb"]) { $1 }))
        }

        func fish(_ line: String) throws -> [String] {
            try lines(CommandRunner.run(executable: URL(fileURLWithPath: "/usr/bin/env"), [
                "fish", "--no-config", "-c", "source \(root.file("photosearch.fish")); complete -C \"$argv[1]\" | cut -f1", line,
            ], environment: environment))
        }

        private func lines(_ result: CommandRunner.Result) -> [String] {
            #expect(result.status == 0, "\(result.standardError)")
            return result.standardOutput.split(separator: "\n").map(String.init)
        }
    }

    static let setup = try! Setup()

    @Test("bash: folders to index, photos, --in, --db, installed models and folders after --model, the catalogue")
    func bash() throws {
        let root = Self.setup.root
        #expect(try Self.setup.bash("photosearch index \(root.file("li"))") == [root.file("library")])
        #expect(try Self.setup.bash("photosearch similar \(root.file("Photos/Pho"))") == [root.file("Photos/Photo 1.jpg"), root.file("Photos/Photo 2.HEIC")])
        #expect(try Self.setup.bash("photosearch search x --in \(root.file("li"))") == [root.file("library")])
        #expect(try Self.setup.bash("photosearch duplicates --db \(root.file("ind"))") == [root.file("index.sqlite")])
        #expect(try Self.setup.bash("photosearch search x --model my") == ["my-model"])
        #expect(try Self.setup.bash("photosearch index . --model \(root.file("mod"))") == [root.file("models-here")])
        #expect(try Self.setup.bash("photosearch models remove m") == ["my-model"])
        #expect(try Self.setup.bash("photosearch models install openai-vit-b") == ["openai-vit-b-32", "openai-vit-b-16"])
    }

    @Test("zsh: the same, through compinit in a terminal")
    func zsh() throws {
        let root = Self.setup.root
        #expect(try Self.setup.zsh("photosearch index \(root.file("li"))").contains("library"))
        let photos = try Self.setup.zsh("photosearch similar \(root.file("Photos/Pho"))")
        #expect(photos.contains("Photo 1.jpg") && photos.contains("Photo 2.HEIC") && !photos.contains("Photo notes.txt"), "\(photos)")
        #expect(try Self.setup.zsh("photosearch search x --in \(root.file("li"))").contains("library"))
        #expect(try Self.setup.zsh("photosearch status --db \(root.file("ind"))").contains("index.sqlite"))
        #expect(try Self.setup.zsh("photosearch search x --model my") == ["my-model"])
        #expect(try Self.setup.zsh("photosearch models install openai-vit-b") == ["openai-vit-b-16", "openai-vit-b-32"])
    }

    @Test("fish: paths, photos and the catalogue (its custom completions need an interactive fish)")
    func fish() throws {
        let root = Self.setup.root
        #expect(try Self.setup.fish("photosearch index \(root.file("li"))") == [root.file("library") + "/"])
        #expect(try Self.setup.fish("photosearch similar \(root.file("Photos/Pho"))") == [root.file("Photos/Photo 1.jpg"), root.file("Photos/Photo 2.HEIC")])
        #expect(try Self.setup.fish("photosearch search x --db \(root.file("ind"))") == [root.file("index.sqlite")])
        #expect(try Self.setup.fish("photosearch models install openai-vit-b") == ["openai-vit-b-32", "openai-vit-b-16"])
    }
}
