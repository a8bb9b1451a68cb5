# then: byte-identical copies added after the .vectors file was written
for f in tk/photos/a/p003*.jpg; do cp $f ${f%.jpg}-copy.jpg; done; $PS index tk/photos --db tk/i.sqlite 2>&1 | tail -1
echo "100 copies since:   top8=$($PS search cat --db tk/i.sqlite --top 8 --paths | wc -l) top50=$($PS search cat --db tk/i.sqlite --top 50 --paths | wc -l) top500=$($PS search cat --db tk/i.sqlite --top 500 --paths | wc -l)"
