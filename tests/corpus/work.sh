# work.sh - a bash workload for the corpus test: strings, indexed and associative
# arrays on bash's own heap, and command substitutions and pipelines that fork
# subshells and exec sort, uniq, head and wc.
set -e
declare -A count
words=(alpha beta gamma delta epsilon zeta eta theta)
text=""
for ((i = 0; i < 20000; i++)); do
	w=${words[i % 8]}$((i % 97))
	count[$w]=$((${count[$w]:-0} + 1))
	text+="$w "
done
echo "distinct: ${#count[@]} length: ${#text}"
for ((j = 0; j < 12; j++)); do
	n=$(printf '%s\n' $text | head -n $((j * 1000 + 1)) | sort | uniq | wc -l)
	echo "round $j: $n"
done
printf '%s\n' "${!count[@]}" | sort | head -n 5
